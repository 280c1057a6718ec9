//! Secrets (tokens, passwords, signing keys) in a type that never prints:
//! `Debug` shows `Secret([redacted])`, there is no `Display`, and the value
//! is read with [`Secret::expose`] only where it is used. A `{:?}` of a
//! configuration or a provider cannot leak one.

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_string())
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The SHA-256 of `input`, in lowercase hex: how codes and tokens are
/// stored, so that a read of the table never yields a usable one.
pub fn sha256_hex(input: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(input)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret([redacted]))");
        assert_eq!(s.expose(), "hunter2");
    }
}
