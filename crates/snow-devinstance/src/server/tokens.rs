//! OAuth token and API-key bookkeeping.

use std::collections::HashMap;

use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};

/// One issued token.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) user: String,
    pub(crate) client_id: String,
    pub(crate) expires_at_ms: i64,
    /// For an access token: the refresh token issued with it (revoking that revokes this).
    pub(crate) refresh: Option<String>,
}

/// Issued access and refresh tokens, keyed by the token text.
#[derive(Default)]
pub(crate) struct Tokens {
    pub(crate) access: HashMap<String, Issued>,
    pub(crate) refresh: HashMap<String, Issued>,
    /// (user, client) → current access token, so a second grant inside the lifetime returns it.
    current_access: HashMap<(String, String), String>,
    current_refresh: HashMap<(String, String), String>,
    /// API key → user.
    pub(crate) api_keys: HashMap<String, String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Token and key texts are credentials: only counts are shown.
        f.debug_struct("Tokens")
            .field("access", &self.access.len())
            .field("refresh", &self.refresh.len())
            .field("api_keys", &self.api_keys.len())
            .finish()
    }
}

/// ServiceNow-looking opaque token text: 86 characters of base64url.
pub(crate) fn random_token() -> String {
    let mut buf = [0u8; 64];
    // SystemRandom only fails if the OS has no randomness source at all.
    if SystemRandom::new().fill(&mut buf).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (t >> (i % 16 * 8)) as u8 ^ i as u8;
        }
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// 32 random lowercase hex characters.
pub(crate) fn random_hex(len: usize) -> String {
    let mut buf = vec![0u8; len.div_ceil(2)];
    let _ = SystemRandom::new().fill(&mut buf);
    let mut s = String::with_capacity(len + 1);
    for b in buf {
        s.push_str(&format!("{b:02x}"));
    }
    s.truncate(len);
    s
}

impl Tokens {
    /// The valid access token for (user, client), or a fresh one; `refresh` is the refresh
    /// token handed out with it, if any.
    pub(crate) fn access_for(
        &mut self,
        user: &str,
        client: &str,
        refresh: Option<&str>,
        now_ms: i64,
        ttl_ms: i64,
    ) -> (String, i64) {
        let key = (user.to_owned(), client.to_owned());
        if let Some(tok) = self.current_access.get(&key)
            && let Some(t) = self.access.get_mut(tok)
            && t.expires_at_ms > now_ms
        {
            if refresh.is_some() {
                t.refresh = refresh.map(str::to_owned);
            }
            return (tok.clone(), t.expires_at_ms);
        }
        let tok = random_token();
        let expires_at_ms = now_ms.saturating_add(ttl_ms);
        self.access.insert(
            tok.clone(),
            Issued {
                user: user.to_owned(),
                client_id: client.to_owned(),
                expires_at_ms,
                refresh: refresh.map(str::to_owned),
            },
        );
        self.current_access.insert(key, tok.clone());
        self.access.retain(|_, t| t.expires_at_ms > now_ms);
        (tok, expires_at_ms)
    }

    /// The valid refresh token for (user, client), or a fresh one.
    pub(crate) fn refresh_for(
        &mut self,
        user: &str,
        client: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> String {
        let key = (user.to_owned(), client.to_owned());
        if let Some(tok) = self.current_refresh.get(&key)
            && self
                .refresh
                .get(tok)
                .is_some_and(|t| t.expires_at_ms > now_ms)
        {
            return tok.clone();
        }
        let tok = random_token();
        self.refresh.insert(
            tok.clone(),
            Issued {
                user: user.to_owned(),
                client_id: client.to_owned(),
                expires_at_ms: now_ms.saturating_add(ttl_ms),
                refresh: None,
            },
        );
        self.current_refresh.insert(key, tok.clone());
        tok
    }

    /// The user behind a valid access token.
    pub(crate) fn user_for_access(&self, token: &str, now_ms: i64) -> Option<String> {
        self.access
            .get(token)
            .filter(|t| t.expires_at_ms > now_ms)
            .map(|t| t.user.clone())
    }

    /// The grant behind a valid refresh token.
    pub(crate) fn refresh_grant(&self, token: &str, now_ms: i64) -> Option<Issued> {
        self.refresh
            .get(token)
            .filter(|t| t.expires_at_ms > now_ms)
            .cloned()
    }

    /// Mark a token expired, as `/oauth_revoke_token.do` does. Returns whether it existed.
    ///
    /// A refresh token takes every access token issued with it along. An access token goes
    /// alone, unless `access_takes_refresh`: then the refresh token issued with it (and so
    /// that refresh token's other access tokens) goes too.
    pub(crate) fn revoke(&mut self, token: &str, access_takes_refresh: bool) -> bool {
        let refresh = if self.refresh.remove(token).is_some() {
            Some(token.to_owned())
        } else if let Some(access) = self.access.remove(token) {
            access.refresh.filter(|_| access_takes_refresh)
        } else {
            return false;
        };
        if let Some(r) = refresh {
            self.refresh.remove(&r);
            self.access
                .retain(|_, t| t.refresh.as_deref() != Some(r.as_str()));
        }
        self.forget_revoked();
        true
    }

    /// Drops "current token" entries that point at tokens no longer issued.
    fn forget_revoked(&mut self) {
        let (access, refresh) = (&self.access, &self.refresh);
        self.current_access.retain(|_, t| access.contains_key(t));
        self.current_refresh.retain(|_, t| refresh.contains_key(t));
    }

    /// Forget one API key. Returns whether it existed.
    pub(crate) fn revoke_api_key(&mut self, key: &str) -> bool {
        self.api_keys.remove(key).is_some()
    }

    /// Forget every API key of a user (or of everyone); returns how many.
    pub(crate) fn revoke_api_keys(&mut self, user: Option<&str>) -> usize {
        let before = self.api_keys.len();
        self.api_keys.retain(|_, u| user.is_some_and(|x| x != u));
        before - self.api_keys.len()
    }

    /// Expire every token of a user (or of everyone).
    pub(crate) fn revoke_user(&mut self, user: Option<&str>) -> usize {
        let before = self.access.len() + self.refresh.len();
        let keep = |t: &Issued| user.is_some_and(|u| t.user != u);
        self.access.retain(|_, t| keep(t));
        self.refresh.retain(|_, t| keep(t));
        self.current_access
            .retain(|(u, _), _| user.is_some_and(|x| x != u));
        self.current_refresh
            .retain(|(u, _), _| user.is_some_and(|x| x != u));
        before - self.access.len() - self.refresh.len()
    }
}
