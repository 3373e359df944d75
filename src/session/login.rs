//! The login-flow cookie `<prefix>_login`: the sign-ins in progress, newest
//! first. One cookie for all of them lets several tabs sign in at once while
//! the number of cookies stays fixed; at most [`MAX_LOGIN_FLOWS`] are kept
//! and each lives [`LOGIN_FLOW_TTL`] seconds.

use http::{HeaderMap, HeaderValue};

use super::cookies::OwnCookies;
use super::model::{self, LOGIN_FORMAT_VERSION, LoginFlow};
use super::seal::Purpose;
use super::{CookieTooLarge, LOGIN_FLOW_TTL, MAX_LOGIN_FLOWS, MAX_LOGIN_LEN, SessionJar};

impl SessionJar<'_> {
    /// The request's pending sign-ins that have not expired at `now`, newest first.
    pub fn read_login_flows(&self, headers: &HeaderMap, now: u64) -> Vec<LoginFlow> {
        let own = OwnCookies::scan(headers, self.settings.prefix());
        let Some(value) = own.login else {
            return Vec::new();
        };
        let name = self.settings.login_name();
        let Some(plain) = self.keys.open(Purpose::Login, &name, value, MAX_LOGIN_LEN) else {
            return Vec::new();
        };
        let mut flows: Vec<LoginFlow> =
            model::decode(LOGIN_FORMAT_VERSION, &plain).unwrap_or_default();
        flows.retain(|flow| remaining_life(flow, now) > 0);
        flows.truncate(MAX_LOGIN_FLOWS);
        flows
    }

    /// The `Set-Cookie` value adding `flow` (created at `now`) in front of the
    /// request's pending flows. A flow with the same state is replaced; the
    /// oldest flows are dropped beyond [`MAX_LOGIN_FLOWS`] or while the cookie
    /// would exceed [`MAX_LOGIN_LEN`]. Fails only when `flow` alone is too
    /// large (a very long `return_to`).
    pub fn push_login_flow(
        &self,
        headers_in: &HeaderMap,
        flow: LoginFlow,
        now: u64,
    ) -> Result<HeaderValue, CookieTooLarge> {
        let mut flows = self.read_login_flows(headers_in, now);
        flows.retain(|old| !constant_time_eq(old.state.as_bytes(), flow.state.as_bytes()));
        flows.insert(0, flow);
        flows.truncate(MAX_LOGIN_FLOWS);
        loop {
            match self.seal_flows(&flows) {
                Ok(sealed) => return Ok(self.login_cookie(&sealed, &flows, now)),
                Err(too_large) if flows.len() == 1 => return Err(too_large),
                Err(_) => flows.pop(),
            };
        }
    }

    /// Removes and returns the pending flow whose state is `state`, with the
    /// `Set-Cookie` value holding the flows left (a deletion when none are).
    /// Taking consumes the flow: a replayed callback finds nothing.
    pub fn take_login_flow(
        &self,
        headers_in: &HeaderMap,
        state: &str,
        now: u64,
    ) -> (Option<LoginFlow>, HeaderValue) {
        let mut flows = self.read_login_flows(headers_in, now);
        let taken = flows
            .iter()
            .position(|flow| constant_time_eq(flow.state.as_bytes(), state.as_bytes()))
            .map(|index| flows.remove(index));
        // The rest is a subset of what was read, so it fits again; should it
        // not, dropping the other pending sign-ins is the safe failure.
        let sealed = (!flows.is_empty())
            .then(|| self.seal_flows(&flows).ok())
            .flatten();
        let cookie = match sealed {
            Some(sealed) => self.login_cookie(&sealed, &flows, now),
            None => self.settings.delete_cookie(&self.settings.login_name()),
        };
        (taken, cookie)
    }

    fn seal_flows(&self, flows: &[LoginFlow]) -> Result<String, CookieTooLarge> {
        let plain = model::encode(LOGIN_FORMAT_VERSION, &flows);
        let name = self.settings.login_name();
        let sealed = self.keys.seal(Purpose::Login, &name, &plain);
        match sealed {
            Some(sealed) if sealed.len() <= MAX_LOGIN_LEN => Ok(sealed),
            _ => Err(CookieTooLarge {
                len: sealed.map_or(plain.len(), |sealed| sealed.len()),
                max: MAX_LOGIN_LEN,
            }),
        }
    }

    /// The cookie lives as long as its youngest flow.
    fn login_cookie(&self, sealed: &str, flows: &[LoginFlow], now: u64) -> HeaderValue {
        let max_age = flows
            .iter()
            .map(|flow| remaining_life(flow, now))
            .max()
            .unwrap_or(0);
        self.settings
            .set_login_cookie(&self.settings.login_name(), sealed, max_age)
    }
}

/// Seconds `flow` has left at `now`. A flow stamped in the future (clock skew
/// between replicas) counts as new, never as living longer than the TTL.
fn remaining_life(flow: &LoginFlow, now: u64) -> u64 {
    LOGIN_FLOW_TTL.saturating_sub(now.saturating_sub(flow.created_at))
}

/// Compares two states without stopping at the first difference, so the time
/// taken does not tell an attacker how much of a guessed state was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
