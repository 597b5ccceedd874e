//! The CLI's key directory: the signing key, its public half, and the previous public keys.
//!
//! Layout (the one `irsa oidc keygen --out DIR` starts):
//! - `DIR/sa.key`: the signing key, PKCS#8 PEM, mode 0600 (any format kube-apiserver
//!   reads is accepted when loading);
//! - `DIR/sa.pub`: its public key, SPKI PEM;
//! - `DIR/previous/UNIX-SECONDS.pub`: public keys that signed before, named by the time
//!   they were rotated out, which is what `--retire-keys-older-than` measures.
//!
//! Retired keys stay in `previous/`: they leave `keys.json` and the apiserver flags, not
//! the disk. The operator keeps the same ring in a Kubernetes Secret instead.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use irsa_jose::keys::{KeySpec, PrivateKey, RsaBits, parse_private_key_pem, parse_public_keys_pem};
use irsa_jose::{KeyError, PublicKey};
use irsa_provision::{KeyRing, PreviousKey};

/// The signing key file name.
pub const SIGNING_KEY: &str = "sa.key";
/// The public key file name.
pub const PUBLIC_KEY: &str = "sa.pub";
/// The directory of previous public keys.
pub const PREVIOUS_DIR: &str = "previous";

/// Why the key directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyDirError {
    /// A file could not be read or written.
    #[error("--key-dir: {path}: {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file holds no usable key.
    #[error("--key-dir: {0}")]
    Key(#[from] KeyError),
    /// A previous key's name does not start with its rotation time.
    #[error(
        "--key-dir: {path}: previous keys must be named UNIX-SECONDS.pub (the time they were rotated out)"
    )]
    PreviousName {
        /// The file.
        path: String,
    },
}

/// The keys of one run.
#[derive(Debug)]
pub struct LoadedKeys {
    /// The key that signs.
    pub signing: PrivateKey,
    /// Its public half and the previous public keys.
    pub ring: KeyRing,
    /// Whether the signing key was generated in this run (the directory had none).
    pub generated: bool,
    /// Whether it was rotated in this run.
    pub rotated: bool,
    /// Where each public key (by kid) lives, for `--service-account-key-file`.
    pub public_key_paths: Vec<(String, PathBuf)>,
    /// Where the signing key lives, for `--service-account-signing-key-file`.
    pub signing_key_path: PathBuf,
}

impl LoadedKeys {
    /// Paths of `keys` (published keys), in their order.
    pub fn paths_of(&self, keys: &[PublicKey]) -> Vec<PathBuf> {
        keys.iter()
            .filter_map(|k| {
                self.public_key_paths
                    .iter()
                    .find(|(kid, _)| kid == k.kid())
                    .map(|(_, p)| p.clone())
            })
            .collect()
    }
}

/// A key directory.
#[derive(Debug, Clone)]
pub struct KeyDir {
    path: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyDirError + '_ {
    move |source| KeyDirError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl KeyDir {
    /// The directory at `path` (created when a key is first written).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the keys; generates a signing key (RSA 2048) if there is none, and with
    /// `rotate` replaces it with a new one, keeping the old public key as previous (rotated
    /// out at `now`, Unix seconds). With `dry_run` nothing is written (a generated or
    /// rotated key then exists only in memory, to show the plan).
    pub fn prepare(
        &self,
        rotate: bool,
        now: i64,
        dry_run: bool,
    ) -> Result<LoadedKeys, KeyDirError> {
        let key_path = self.path.join(SIGNING_KEY);
        let pub_path = self.path.join(PUBLIC_KEY);
        let existing = match fs::read(&key_path) {
            Ok(data) => Some(parse_private_key_pem(
                &key_path.display().to_string(),
                &data,
            )?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&key_path)(e)),
        };
        let previous_files = self.previous_keys()?;
        let mut public_key_paths: Vec<(String, PathBuf)> = Vec::new();
        let mut previous = Vec::new();
        for (key, retired_at, path) in previous_files {
            public_key_paths.push((key.kid().to_owned(), path));
            previous.push(PreviousKey { key, retired_at });
        }
        previous.sort_by_key(|p| std::cmp::Reverse(p.retired_at));
        let generated = existing.is_none();
        let (signing, rotated) = match existing {
            None => (generate()?, false),
            Some(old) if rotate => {
                let old_public = old.public_key()?;
                let stored = self.path.join(PREVIOUS_DIR).join(self.previous_name(now));
                if !dry_run {
                    fs::create_dir_all(self.path.join(PREVIOUS_DIR)).map_err(io(&self.path))?;
                    write_atomic(&stored, old_public.to_pem().as_bytes(), 0o644)
                        .map_err(io(&stored))?;
                }
                public_key_paths.push((old_public.kid().to_owned(), stored));
                previous.retain(|p| p.key.kid() != old_public.kid());
                previous.insert(
                    0,
                    PreviousKey {
                        key: old_public,
                        retired_at: now,
                    },
                );
                (generate()?, true)
            }
            Some(key) => (key, false),
        };
        let public = signing.public_key()?;
        if !dry_run && (generated || rotated) {
            fs::create_dir_all(&self.path).map_err(io(&self.path))?;
            write_atomic(&key_path, signing.to_pkcs8_pem()?.as_bytes(), 0o600)
                .map_err(io(&key_path))?;
            write_atomic(&pub_path, public.to_pem().as_bytes(), 0o644).map_err(io(&pub_path))?;
        } else if !dry_run && !pub_path.exists() {
            write_atomic(&pub_path, public.to_pem().as_bytes(), 0o644).map_err(io(&pub_path))?;
        }
        public_key_paths.push((public.kid().to_owned(), pub_path));
        previous.retain(|p| p.key.kid() != public.kid());
        Ok(LoadedKeys {
            signing,
            ring: KeyRing {
                current: public,
                previous,
            },
            generated,
            rotated,
            public_key_paths,
            signing_key_path: key_path,
        })
    }

    /// `previous/*.pub` with their rotation times.
    fn previous_keys(&self) -> Result<Vec<(PublicKey, i64, PathBuf)>, KeyDirError> {
        let dir = self.path.join(PREVIOUS_DIR);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir)(e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let path = entry.map_err(io(&dir))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pub") {
                continue;
            }
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let digits = stem.split('-').next().unwrap_or_default();
            let retired_at: i64 = digits.parse().map_err(|_| KeyDirError::PreviousName {
                path: path.display().to_string(),
            })?;
            let data = fs::read(&path).map_err(io(&path))?;
            for key in parse_public_keys_pem(&path.display().to_string(), &data)? {
                out.push((key, retired_at, path.clone()));
            }
        }
        Ok(out)
    }

    /// A free `previous/` name for a key rotated out at `now`.
    fn previous_name(&self, now: i64) -> String {
        let dir = self.path.join(PREVIOUS_DIR);
        let mut name = format!("{now}.pub");
        let mut n = 1;
        while dir.join(&name).exists() {
            n += 1;
            name = format!("{now}-{n}.pub");
        }
        name
    }
}

fn generate() -> Result<PrivateKey, KeyError> {
    PrivateKey::generate(KeySpec::Rsa(RsaBits::B2048))
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename,
/// with `mode` set before any byte is written, so a reader never sees half a key and a
/// private key is never readable by others.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        // The umask may have narrowed the mode; set it exactly.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn generate_load_rotate_retire() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = KeyDir::new(tmp.path().join("keys"));
        // Dry run on an empty directory writes nothing.
        let dry = dir.prepare(false, 100, true).unwrap();
        assert!(dry.generated);
        assert!(!dir.path().exists());
        let first = dir.prepare(false, 100, false).unwrap();
        assert!(first.generated && !first.rotated);
        let mode = fs::metadata(dir.path().join(SIGNING_KEY))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(first.signing.public_key().unwrap().rsa_bits(), Some(2048));
        let again = dir.prepare(false, 200, false).unwrap();
        assert!(!again.generated);
        assert_eq!(again.ring.current.kid(), first.ring.current.kid());
        let rotated = dir.prepare(true, 300, false).unwrap();
        assert!(rotated.rotated);
        assert_ne!(rotated.ring.current.kid(), first.ring.current.kid());
        assert_eq!(rotated.ring.previous.len(), 1);
        assert_eq!(rotated.ring.previous[0].retired_at, 300);
        assert!(dir.path().join("previous/300.pub").exists());
        // Loaded back: two keys published, one after retirement, files stay.
        let loaded = dir.prepare(false, 400, false).unwrap();
        let all = loaded.ring.published(None, 400);
        assert_eq!(all.len(), 2);
        assert_eq!(loaded.paths_of(&all).len(), 2);
        let hour = Duration::from_secs(3600);
        assert_eq!(loaded.ring.published(Some(hour), 300 + 3601).len(), 1);
        assert!(dir.path().join("previous/300.pub").exists());
        // Two rotations in one second get distinct files.
        dir.prepare(true, 300, false).unwrap();
        assert!(dir.path().join("previous/300-2.pub").exists());
    }

    #[test]
    fn foreign_files_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join(SIGNING_KEY), "not a key").unwrap();
        let e = KeyDir::new(tmp.path()).prepare(false, 0, true).unwrap_err();
        assert!(e.to_string().starts_with("--key-dir"), "{e}");
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join(PREVIOUS_DIR)).unwrap();
        fs::write(tmp.path().join("previous/old.pub"), "x").unwrap();
        let e = KeyDir::new(tmp.path()).prepare(false, 0, true).unwrap_err();
        assert!(matches!(e, KeyDirError::PreviousName { .. }), "{e}");
    }
}
