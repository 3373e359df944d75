// Module-level in-memory adapter for oidc-provider.
//
// Unlike the library's bundled MemoryAdapter (an LRU capped at 1000 entries),
// this one never evicts live entries, so load tests cannot lose sessions or
// tokens. The storage lives at module level, so every Provider instance built
// in this process (see /__test/rotate-keys) shares the same sessions, grants,
// codes and tokens.

const storage = new Map(); // key -> { payload, expiresAt (epoch ms) | undefined }

const now = () => Date.now();

function get(key) {
  const entry = storage.get(key);
  if (!entry) return undefined;
  if (entry.expiresAt !== undefined && entry.expiresAt <= now()) {
    storage.delete(key);
    return undefined;
  }
  return entry.payload;
}

function set(key, payload, expiresIn) {
  storage.set(key, {
    payload,
    expiresAt: expiresIn ? now() + expiresIn * 1000 : undefined,
  });
}

const grantable = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

// Periodic sweep of expired entries so a long soak does not grow without bound.
setInterval(() => {
  const t = now();
  for (const [k, v] of storage) {
    if (v.expiresAt !== undefined && v.expiresAt <= t) storage.delete(k);
  }
}, 30_000).unref();

export function storageSize() {
  return storage.size;
}

export default class MemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async destroy(id) {
    storage.delete(this.key(id));
  }

  async consume(id) {
    const payload = get(this.key(id));
    if (payload) payload.consumed = Math.floor(now() / 1000);
  }

  async find(id) {
    const payload = get(this.key(id));
    return payload ? structuredClone(payload) : undefined;
  }

  async findByUid(uid) {
    const id = get(`sessionUid:${uid}`);
    return id ? this.find(id) : undefined;
  }

  async findByUserCode(userCode) {
    const id = get(`userCode:${userCode}`);
    return id ? this.find(id) : undefined;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    if (this.model === 'Session') set(`sessionUid:${payload.uid}`, id, expiresIn);
    if (grantable.has(this.model) && payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      const existing = storage.get(grantKey);
      const list = get(grantKey) || [];
      list.push(key);
      // Keep the grant index alive as long as its longest-lived member.
      let expiresAt = expiresIn ? now() + expiresIn * 1000 : undefined;
      if (existing && (existing.expiresAt === undefined || expiresAt === undefined)) {
        expiresAt = undefined;
      } else if (existing) {
        expiresAt = Math.max(existing.expiresAt, expiresAt);
      }
      storage.set(grantKey, { payload: list, expiresAt });
    }
    if (payload.userCode) set(`userCode:${payload.userCode}`, id, expiresIn);
    set(key, structuredClone(payload), expiresIn);
  }

  async revokeByGrantId(grantId) {
    const grantKey = `grant:${grantId}`;
    const list = get(grantKey);
    if (list) for (const k of list) storage.delete(k);
    storage.delete(grantKey);
  }
}
