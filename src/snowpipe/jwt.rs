//! Snowflake key-pair authentication: an RS256 JWT signed with the user's key.
//!
//! `iss` is `ACCOUNT.USER.SHA256:<fingerprint>`, `sub` is `ACCOUNT.USER`, both upper
//! case; the fingerprint is base64(sha256(DER SubjectPublicKeyInfo)) of the public key
//! registered on the user (`RSA_PUBLIC_KEY`). Snowflake accepts at most an hour.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use rsa::signature::{SignatureEncoding, Signer};
use sha2::{Digest, Sha256};

/// The account as a JWT names it, upper case: a legacy locator without its region
/// (`xy12345.eu-west-1` → `XY12345`), a `.global` one without its suffix, cut at its
/// first dash, as Snowflake's own connectors do (snowflake-connector-python,
/// `auth/keypair.py`: `account.partition("-")[0]` if ".global" is in it, else
/// `account.partition(".")[0]`).
fn jwt_account(account: &str) -> String {
    let cut = if account.contains(".global") { '-' } else { '.' };
    account.split(cut).next().unwrap_or(account).to_ascii_uppercase()
}

/// Issues JWTs for one Snowflake user.
pub struct KeyPairJwt {
    signer: SigningKey<Sha256>,
    /// `ACCOUNT.USER`.
    subject: String,
    /// `SHA256:…` of the public key.
    fingerprint: String,
}

impl std::fmt::Debug for KeyPairJwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPairJwt")
            .field("subject", &self.subject)
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl KeyPairJwt {
    /// Reads an unencrypted PKCS#8 PEM key. Errors never quote the key.
    pub fn from_pem(pem: &str, account: &str, user: &str) -> Result<KeyPairJwt, String> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .map_err(|e| format!("the private key is not an unencrypted PKCS#8 RSA key in PEM ({e})"))?;
        let public = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| format!("cannot encode the public key ({e})"))?;
        let fingerprint = format!("SHA256:{}", STANDARD.encode(Sha256::digest(public.as_bytes())));
        let subject = format!("{}.{}", jwt_account(account), user.to_ascii_uppercase());
        Ok(KeyPairJwt {
            signer: SigningKey::new(key),
            subject,
            fingerprint,
        })
    }

    /// The public key's fingerprint, as `DESC USER` shows it (`RSA_PUBLIC_KEY_FP`).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A token valid from `now` (Unix seconds) for `lifetime_secs` (at most 3600).
    pub fn issue(&self, now: i64, lifetime_secs: i64) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = serde_json::json!({
            "iss": format!("{}.{}", self.subject, self.fingerprint),
            "sub": self.subject,
            "iat": now,
            "exp": now + lifetime_secs.min(3600),
        });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature = self.signer.sign(signed.as_bytes()).to_bytes();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

#[cfg(test)]
mod tests {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    use rsa::signature::Verifier;

    use super::*;

    #[test]
    fn tokens_are_signed_rs256_with_snowflakes_claims() {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        let jwt = KeyPairJwt::from_pem(&pem, "xy12345.eu-west-1", "pipeline").unwrap();
        let token = jwt.issue(1_700_000_000, 7_200);
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);

        let verifier = VerifyingKey::<Sha256>::new(key.to_public_key());
        let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
        verifier
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .unwrap();

        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "XY12345.PIPELINE");
        assert_eq!(claims["iss"], format!("XY12345.PIPELINE.{}", jwt.fingerprint()));
        assert!(jwt.fingerprint().starts_with("SHA256:") && jwt.fingerprint().len() == 7 + 44);
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            3_600,
            "capped at an hour"
        );
    }

    #[test]
    fn the_account_is_named_as_snowflakes_connectors_name_it() {
        assert_eq!(jwt_account("myorg-myaccount"), "MYORG-MYACCOUNT");
        assert_eq!(jwt_account("xy12345.eu-west-1.azure"), "XY12345");
        assert_eq!(jwt_account("xy12345-abcde.global"), "XY12345");
    }

    #[test]
    fn a_bad_key_is_explained_without_quoting_it() {
        let error = KeyPairJwt::from_pem(
            "-----BEGIN PRIVATE KEY-----\nhunter2\n-----END PRIVATE KEY-----\n",
            "a",
            "u",
        )
        .unwrap_err();
        assert!(error.contains("PKCS#8") && !error.contains("hunter2"), "{error}");
    }
}
