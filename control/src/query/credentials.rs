//! The access keys the API accepts, from a file in the AWS shared-credentials format.
//!
//! The same file a user's `~/.aws/credentials` is, so an operator can hand it to the CLI
//! as it is: `[profile]` sections with `aws_access_key_id` and `aws_secret_access_key`. Every
//! profile's key is accepted. The file holds secrets, so one that group or others may read or
//! write is refused, and no message ever quotes a line of it.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why the credentials file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("credentials_file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("credentials_file {path} has mode {mode:04o}: it holds secrets, so group and others must have no access (chmod 600 {path})")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("credentials_file {path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error("credentials_file {path}, line {line}: {why}")]
    Malformed { path: PathBuf, line: usize, why: &'static str },
    #[error("credentials_file {path}, profile [{profile}]: {why}")]
    Profile { path: PathBuf, profile: String, why: String },
    #[error("credentials_file {path} has no profile with aws_access_key_id and aws_secret_access_key")]
    NoKey { path: PathBuf },
}

/// The accepted access keys and their secrets.
#[derive(Clone, Default)]
pub struct Credentials {
    secrets: HashMap<String, String>,
}

// Never print a secret, not even in a debug dump.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let mut keys: Vec<&String> = self.secrets.keys().collect();
        keys.sort();
        f.debug_struct("Credentials").field("access_keys", &keys).finish_non_exhaustive()
    }
}

impl Credentials {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Credentials, CredentialsError> {
        let io = |source| CredentialsError::Io { path: path.to_path_buf(), source };
        let mut file = std::fs::File::open(path).map_err(io)?;
        // The mode of the file that was opened, not of whatever the path names a moment later.
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(CredentialsError::NotAFile { path: path.to_path_buf() });
        }
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(CredentialsError::Permissions { path: path.to_path_buf(), mode });
        }
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(io)?;
        Credentials::parse(&text, path)
    }

    /// Parses the file's text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Credentials, CredentialsError> {
        let malformed = |line, why| CredentialsError::Malformed { path: path.to_path_buf(), line, why };
        let mut profiles: Vec<(String, Option<String>, Option<String>)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[') {
                let name = name.strip_suffix(']').ok_or_else(|| malformed(i + 1, "a section header must be [profile-name]"))?.trim();
                if name.is_empty() {
                    return Err(malformed(i + 1, "a section header must be [profile-name]"));
                }
                profiles.push((name.to_string(), None, None));
                continue;
            }
            if raw.starts_with([' ', '\t']) {
                return Err(malformed(i + 1, "continuation lines are not supported; write key = value on one line"));
            }
            let (key, value) = line.split_once('=').ok_or_else(|| malformed(i + 1, "expected key = value or [profile-name]"))?;
            let (key, value) = (key.trim(), value.trim());
            let profile = profiles.last_mut().ok_or_else(|| malformed(i + 1, "key = value before the first [profile-name]"))?;
            let slot = match key {
                "aws_access_key_id" => &mut profile.1,
                "aws_secret_access_key" => &mut profile.2,
                // region, output, ...: the CLI's business, not the appliance's.
                _ => continue,
            };
            if value.is_empty() {
                return Err(malformed(i + 1, "the value is empty"));
            }
            if slot.replace(value.to_string()).is_some() {
                return Err(malformed(i + 1, "the key is given twice in this profile"));
            }
        }
        let mut secrets: HashMap<String, String> = HashMap::new();
        for (profile, id, secret) in profiles {
            let why = match (id, secret) {
                (None, None) => continue,
                (Some(id), Some(secret)) => match secrets.get(&id) {
                    Some(other) if *other != secret => format!("access key {id} is also in another profile, with another secret"),
                    _ => {
                        secrets.insert(id, secret);
                        continue;
                    }
                },
                (Some(_), None) => "aws_access_key_id without aws_secret_access_key".into(),
                (None, Some(_)) => "aws_secret_access_key without aws_access_key_id".into(),
            };
            return Err(CredentialsError::Profile { path: path.to_path_buf(), profile, why });
        }
        if secrets.is_empty() {
            return Err(CredentialsError::NoKey { path: path.to_path_buf() });
        }
        Ok(Credentials { secrets })
    }

    /// The secret of an access key, if the file has it.
    pub fn secret(&self, access_key: &str) -> Option<&str> {
        self.secrets.get(access_key).map(String::as_str)
    }

    /// How many access keys are accepted (at least one, once loaded).
    pub fn count(&self) -> usize {
        self.secrets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const FILE: &str = "# the appliance's API keys\n[default]\naws_access_key_id = AKIDONE\naws_secret_access_key = s3cr3t/one\nregion = us-east-1\n\n[ops]\naws_access_key_id=AKIDTWO\naws_secret_access_key=two+two\n";

    fn write(text: &str, mode: u32) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    #[test]
    fn every_profiles_key_is_accepted() {
        let f = write(FILE, 0o600);
        let c = Credentials::load(f.path()).unwrap();
        assert_eq!((c.count(), c.secret("AKIDONE"), c.secret("AKIDTWO"), c.secret("AKIDTHREE")), (2, Some("s3cr3t/one"), Some("two+two"), None));
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let f = write(FILE, 0o400);
        assert!(Credentials::load(f.path()).is_ok());
    }

    #[test]
    fn a_file_open_to_group_or_others_is_refused_naming_file_and_mode() {
        for mode in [0o640, 0o604, 0o660, 0o602] {
            let f = write(FILE, mode);
            let err = Credentials::load(f.path()).unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, CredentialsError::Permissions { .. }), "{mode:o}");
            assert!(msg.contains(&f.path().display().to_string()) && msg.contains(&format!("{mode:04o}")), "{msg}");
        }
    }

    #[test]
    fn malformed_lines_are_named_by_number_without_quoting_them() {
        for (text, line) in [
            ("[default]\naws_access_key_id AKID\n", 2),
            ("aws_access_key_id = AKID\n[default]\n", 1),
            ("[default\n", 1),
            ("[default]\naws_access_key_id = A\naws_access_key_id = B\n", 3),
            ("[default]\naws_secret_access_key =\n", 2),
            ("[default]\naws_access_key_id = A\n  continued secret\n", 3),
        ] {
            match Credentials::parse(text, Path::new("/etc/tm/credentials")).unwrap_err() {
                CredentialsError::Malformed { line: l, .. } => assert_eq!(l, line, "{text:?}"),
                other => panic!("{text:?}: {other}"),
            }
        }
        let msg = Credentials::parse("[default]\nwJalrXUtnFEMI/K7MDENG\n", Path::new("c")).unwrap_err().to_string();
        assert!(msg.contains("line 2") && !msg.contains("wJalr"), "{msg}");
    }

    #[test]
    fn a_file_without_a_complete_key_is_refused() {
        let err = Credentials::parse("# nothing\n[default]\nregion = eu-west-1\n", Path::new("c")).unwrap_err();
        assert!(matches!(err, CredentialsError::NoKey { .. }));
        let err = Credentials::parse("[ops]\naws_access_key_id = A\n", Path::new("c")).unwrap_err();
        assert!(err.to_string().contains("[ops]"), "{err}");
        let err = Credentials::parse("[a]\naws_access_key_id = A\naws_secret_access_key = x\n[b]\naws_access_key_id = A\naws_secret_access_key = y\n", Path::new("c")).unwrap_err();
        assert!(matches!(err, CredentialsError::Profile { .. }));
        assert!(matches!(Credentials::load(Path::new("/nonexistent/credentials")).unwrap_err(), CredentialsError::Io { .. }));
    }
}
