//! `${VAR}` substitution in string values, as Backstage does it, except
//! that an unset variable is an error rather than a silently absent value.

/// Replaces `${VAR}` with the variable's value; `$${` stands for a literal
/// `${`. A `${` without a closing `}` is kept as it is, as Backstage does.
pub(super) fn substitute(
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        if let Some(after) = rest.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some((name, after)) = rest.strip_prefix("${").and_then(|r| r.split_once('}'))
        {
            out.push_str(&lookup(name.trim(), env)?);
            rest = after;
        } else {
            out.push('$');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    if name.is_empty() {
        return Err("empty variable name in ${}".to_string());
    }
    env(name).ok_or_else(|| not_set(name))
}

pub(super) fn not_set(name: &str) -> String {
    format!("environment variable {name} is not set")
}
