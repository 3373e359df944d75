//! Who a request acts for, as plain data: what the IdP said about the person
//! ([`Claims`]) and who they are in Backstage's catalog ([`Identity`]).
//!
//! Types only, at the bottom layer, so that `identity` (which produces an
//! `Identity`) and `token` (which signs one) need not know each other.

/// The signed-in person's claims, from the ID token or userinfo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims {
    pub subject: String,
    pub email: Option<String>,
    pub preferred_username: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
}

impl Claims {
    /// Every claim, in a fixed order: subject, email, preferred username,
    /// name, picture.
    pub fn parts(&self) -> [Option<&str>; 5] {
        [
            Some(self.subject.as_str()),
            self.email.as_deref(),
            self.preferred_username.as_deref(),
            self.name.as_deref(),
            self.picture.as_deref(),
        ]
    }
}

/// A resolved Backstage identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// e.g. `user:default/alice`, lower-cased as Backstage does.
    pub user_entity_ref: String,
    /// The user ref, then the groups it is a direct member of.
    pub ownership_entity_refs: Vec<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
}
