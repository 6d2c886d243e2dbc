//! AWS Signature Version 4, checked the way botocore's `SigV4Auth` signs.
//!
//! The verifier recomputes the signature from what arrived (method, path, query, the headers
//! the client says it signed, the SHA-256 of the body) and the secret of the claimed access key,
//! and compares it in constant time. The payload hash is always computed over the body that
//! arrived, never taken from an `X-Amz-Content-Sha256` header, so an `UNSIGNED-PAYLOAD` claim
//! cannot smuggle an unsigned body in: it simply fails to match.

use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha256 = Hmac<Sha256>;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// How far a request's `X-Amz-Date` may be from the appliance's clock, either way.
pub const MAX_SKEW: Duration = Duration::from_secs(5 * 60);

/// What the signature covers, as it arrived.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent on the request line (still percent-encoded), without the query.
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// A request whose signature holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub access_key: String,
    pub region: String,
}

/// Why a request is not authenticated. Only the access key id is ever carried, never a secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the request carries no Authorization header")]
    Missing,
    #[error("the Authorization header is not a usable SigV4 signature: {0}")]
    Incomplete(String),
    #[error("access key {access_key} is not in the credentials file")]
    UnknownKey { access_key: String },
    #[error("the signature of access key {access_key} does not match")]
    BadSignature { access_key: String },
    #[error("access key {access_key} signed the request for {scope}, not for this service")]
    WrongScope { access_key: String, scope: String },
    #[error("the request of access key {access_key} is dated {date}, more than 5 minutes from now ({now})")]
    Expired { access_key: String, date: String, now: String },
}

impl AuthError {
    /// EC2's error code for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "MissingAuthenticationToken",
            AuthError::Incomplete(_) => "IncompleteSignature",
            // EC2 does not tell an unknown key from a wrong secret, and neither does this.
            AuthError::UnknownKey { .. } | AuthError::BadSignature { .. } | AuthError::WrongScope { .. } => "AuthFailure",
            AuthError::Expired { .. } => "RequestExpired",
        }
    }

    /// The message a client is told: enough to fix its side, nothing about which keys exist.
    pub fn client_message(&self) -> String {
        match self {
            AuthError::Missing => "The request must contain valid credentials: sign it with AWS Signature Version 4".into(),
            AuthError::Incomplete(why) => format!("The request signature does not conform to AWS standards: {why}"),
            AuthError::UnknownKey { .. } | AuthError::BadSignature { .. } => {
                "The provided credentials could not be validated: the access key is unknown or the signature does not match".into()
            }
            AuthError::WrongScope { scope, .. } => format!("Credential should be scoped to the service ec2, not {scope}"),
            AuthError::Expired { date, now, .. } => {
                format!("Request has expired: it is dated {date}, and the appliance's time is {now} (at most 5 minutes apart)")
            }
        }
    }
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, PartialEq, Eq)]
struct Authorization<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    service: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, AuthError> {
    let incomplete = |why: &str| AuthError::Incomplete(why.to_string());
    let rest = value
        .strip_prefix(ALGORITHM)
        .filter(|r| r.starts_with(' '))
        .ok_or_else(|| incomplete("only AWS4-HMAC-SHA256 is supported"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=').ok_or_else(|| incomplete("expected Credential=, SignedHeaders= and Signature="))?;
        let slot = match k {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return Err(incomplete("expected Credential=, SignedHeaders= and Signature=")),
        };
        if slot.replace(v).is_some() {
            return Err(incomplete("a field of the Authorization header is repeated"));
        }
    }
    let (Some(credential), Some(signed), Some(signature)) = (credential, signed, signature) else {
        return Err(incomplete("expected Credential=, SignedHeaders= and Signature="));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key, date, region, service, "aws4_request"] = scope[..] else {
        return Err(incomplete("Credential must be AccessKeyId/YYYYMMDD/region/service/aws4_request"));
    };
    let signed_headers: Vec<&str> = signed.split(';').collect();
    if signed_headers.iter().any(|h| h.is_empty() || h.bytes().any(|b| b.is_ascii_uppercase())) {
        return Err(incomplete("SignedHeaders must be lower-case names separated by ;"));
    }
    if !signed_headers.contains(&"host") {
        return Err(incomplete("SignedHeaders must include host"));
    }
    Ok(Authorization { access_key, date, region, service, signed_headers, signature })
}

/// Checks `req`'s signature for `service` with the secret `secret_of` gives the claimed key,
/// against the clock `now`.
pub fn verify<'s>(req: &Request, service: &str, secret_of: impl Fn(&str) -> Option<&'s str>, now: SystemTime) -> Result<Verified, AuthError> {
    let mut auths = headers(req.headers, "authorization");
    let value = auths.next().ok_or(AuthError::Missing)?;
    if auths.next().is_some() {
        return Err(AuthError::Incomplete("more than one Authorization header".into()));
    }
    let auth = parse_authorization(value)?;
    let access_key = auth.access_key.to_string();
    let mut dates = headers(req.headers, "x-amz-date");
    let amz_date = match (dates.next(), dates.next()) {
        (Some(d), None) => d.trim(),
        _ => return Err(AuthError::Incomplete("the request needs exactly one X-Amz-Date header".into())),
    };
    let stamp = parse_amz_date(amz_date).ok_or_else(|| AuthError::Incomplete(format!("X-Amz-Date {amz_date} is not YYYYMMDDTHHMMSSZ")))?;
    if !amz_date.starts_with(auth.date) || auth.date.len() != 8 {
        return Err(AuthError::Incomplete(format!("the Credential's date {} is not the date of X-Amz-Date {amz_date}", auth.date)));
    }
    if auth.service != service {
        return Err(AuthError::WrongScope { access_key, scope: format!("{}/{}", auth.region, auth.service) });
    }
    let skew = match now.duration_since(stamp) {
        Ok(past) => past,
        Err(future) => future.duration(),
    };
    if skew > MAX_SKEW {
        return Err(AuthError::Expired { access_key, date: amz_date.to_string(), now: format_amz_date(now) });
    }
    let provided = hex::decode(auth.signature).map_err(|_| AuthError::Incomplete("Signature must be hexadecimal".into()))?;
    // An unknown key costs the same work as a known one, so timing does not tell which keys exist.
    let known = secret_of(auth.access_key);
    let secret = known.unwrap_or("an unknown key's stand-in secret");

    let creq = canonical_request(req, &auth.signed_headers);
    let scope = format!("{}/{}/{}/aws4_request", auth.date, auth.region, auth.service);
    let sts = string_to_sign(amz_date, &scope, &creq);
    let key = signing_key(secret, auth.date, auth.region, auth.service);
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(sts.as_bytes());
    // verify_slice compares in constant time.
    let matches = mac.verify_slice(&provided).is_ok();
    if known.is_none() {
        return Err(AuthError::UnknownKey { access_key });
    }
    if !matches {
        return Err(AuthError::BadSignature { access_key });
    }
    Ok(Verified { access_key, region: auth.region.to_string() })
}

fn headers<'a>(headers: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// The canonical request: method, URI, query, the signed headers, the signed header names and
/// the payload's hash, one per line.
pub fn canonical_request(req: &Request, signed_headers: &[&str]) -> String {
    let mut out = format!("{}\n{}\n{}\n", req.method.to_ascii_uppercase(), canonical_uri(req.path), canonical_query(req.query));
    for name in signed_headers {
        // botocore joins repeated headers with ',' and collapses each value's whitespace.
        let values: Vec<String> = headers(req.headers, name).map(|v| v.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        out.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    out.push_str(&format!("\n{}\n{}", signed_headers.join(";"), hex::encode(Sha256::digest(req.body))));
    out
}

/// The string to sign for a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical_request.as_bytes())))
}

/// The key derived from a secret for one day, region and service.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let mut key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    for part in [region, service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    key
}

/// The signature of a string to sign, in hex, as a client computes it.
#[cfg(test)]
fn signature(key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac(key, string_to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// What SigV4 leaves unencoded: letters, digits, `-._~`.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The path as botocore canonicalises it: dot segments and empty segments removed, then
/// URI-encoded once more (so an encoded `%2F` becomes `%252F`, as botocore signs it).
fn canonical_uri(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').fold(Vec::new(), |mut out, s| {
        match s {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
        out
    });
    let mut normalized = String::from("/");
    normalized.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        normalized.push('/');
    }
    normalized.split('/').map(|s| utf8_percent_encode(s, UNRESERVED).to_string()).collect::<Vec<_>>().join("/")
}

/// The query as botocore canonicalises it: the pairs as sent, sorted by key, then value.
fn canonical_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(&str, &str)> = query.split('&').map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// `YYYYMMDDTHHMMSSZ` to a time.
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let (y, mo, d, h, mi, sec) = (n(0..4), n(4..6), n(6..8), n(9..11), n(11..13), n(13..15));
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    u64::try_from(secs).ok().map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// A time as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(t: SystemTime) -> String {
    let (y, m, d, h, mi, s) = utc(t);
    format!("{y:04}{m:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// A time as EC2 writes one, `YYYY-MM-DDTHH:MM:SS.000Z`.
pub fn format_iso8601(t: SystemTime) -> String {
    let (y, m, d, h, mi, s) = utc(t);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000Z")
}

/// Year, month, day, hour, minute and second of `t` in UTC.
fn utc(t: SystemTime) -> (i64, i64, i64, i64, i64, i64) {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

// Howard Hinnant's proleptic-Gregorian day arithmetic, to avoid a date crate for two functions.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    // AWS's published Signature Version 4 test suite: its credentials, date and scope.
    const SUITE_KEY: &str = "AKIDEXAMPLE";
    const SUITE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const SUITE_DATE: &str = "20150830T123600Z";

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn suite_secret(key: &str) -> Option<&'static str> {
        (key == SUITE_KEY).then_some(SUITE_SECRET)
    }

    fn at(date: &str) -> SystemTime {
        parse_amz_date(date).unwrap()
    }

    struct Vector {
        name: &'static str,
        method: &'static str,
        path: &'static str,
        query: &'static str,
        headers: &'static [(&'static str, &'static str)],
        body: &'static [u8],
        creq: Option<&'static str>,
        authz: &'static str,
    }

    const HOST: (&str, &str) = ("Host", "example.amazonaws.com");
    const DATE: (&str, &str) = ("X-Amz-Date", SUITE_DATE);

    const VECTORS: &[Vector] = &[
        Vector {
            name: "post-x-www-form-urlencoded",
            method: "POST",
            path: "/",
            query: "",
            headers: &[("Content-Type", "application/x-www-form-urlencoded"), HOST, DATE],
            body: b"Param1=value1",
            creq: Some("POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"),
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
        },
        Vector {
            name: "post-vanilla",
            method: "POST",
            path: "/",
            query: "",
            headers: &[HOST, DATE],
            body: b"",
            creq: None,
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
        },
        Vector {
            name: "post-vanilla-query",
            method: "POST",
            path: "/",
            query: "Param1=value1",
            headers: &[HOST, DATE],
            body: b"",
            creq: Some("POST\n/\nParam1=value1\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11",
        },
        Vector {
            name: "get-vanilla-query-order-key-case",
            method: "GET",
            path: "/",
            query: "Param2=value2&Param1=value1",
            headers: &[HOST, DATE],
            body: b"",
            creq: Some("GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
        },
    ];

    #[test]
    fn aws_test_suite_vectors_verify_and_canonicalise_as_published() {
        for v in VECTORS {
            let mut headers = h(v.headers);
            headers.push(("Authorization".into(), v.authz.into()));
            let req = Request { method: v.method, path: v.path, query: v.query, headers: &headers, body: v.body };
            let auth = parse_authorization(v.authz).unwrap();
            if let Some(creq) = v.creq {
                assert_eq!(canonical_request(&req, &auth.signed_headers), creq, "{}", v.name);
            }
            let verified = verify(&req, "service", suite_secret, at(SUITE_DATE)).unwrap_or_else(|e| panic!("{}: {e}", v.name));
            assert_eq!(verified, Verified { access_key: SUITE_KEY.into(), region: "us-east-1".into() });
            // And the signer agrees with the verifier.
            let sts = string_to_sign(SUITE_DATE, "20150830/us-east-1/service/aws4_request", &canonical_request(&req, &auth.signed_headers));
            assert_eq!(signature(&signing_key(SUITE_SECRET, "20150830", "us-east-1", "service"), &sts), auth.signature, "{}", v.name);
        }
    }

    #[test]
    fn the_form_urlencoded_string_to_sign_is_the_published_one() {
        let v = &VECTORS[0];
        let headers = h(v.headers);
        let req = Request { method: v.method, path: v.path, query: v.query, headers: &headers, body: v.body };
        let sts = string_to_sign(SUITE_DATE, "20150830/us-east-1/service/aws4_request", &canonical_request(&req, &["content-type", "host", "x-amz-date"]));
        assert_eq!(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281");
    }

    /// A DescribeTrafficMirrorSessions request as botocore 1.44.8's SigV4Auth signed it (its clock
    /// fixed at 2026-05-01T12:00:00Z), with the headers urllib3 sends.
    fn botocore_request() -> (Vec<(String, String)>, &'static [u8]) {
        let headers = h(&[
            ("Host", "127.0.0.1:8788"),
            ("Accept-Encoding", "identity"),
            ("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
            ("User-Agent", "aws-cli/1.46.3"),
            ("X-Amz-Date", "20260501T120000Z"),
            ("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDTRAFFICMIRROR/20260501/us-east-1/ec2/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=d56ab18de94ebc15901be134e401ea81ed9cec0c313ae6cc0acaf309a9ad7546"),
            ("Content-Length", "118"),
        ]);
        (headers, b"Action=DescribeTrafficMirrorSessions&Version=2016-11-15&Filter.1.Name=tag%3Ateam&Filter.1.Value.1=ids+soc&MaxResults=5")
    }

    fn botocore_secret(key: &str) -> Option<&'static str> {
        (key == "AKIDTRAFFICMIRROR").then_some("secret/with+chars=and more")
    }

    #[test]
    fn a_request_signed_by_botocore_verifies() {
        let (headers, body) = botocore_request();
        let req = Request { method: "POST", path: "/", query: "", headers: &headers, body };
        let now = at("20260501T120400Z");
        assert_eq!(verify(&req, "ec2", botocore_secret, now).unwrap().access_key, "AKIDTRAFFICMIRROR");
    }

    #[test]
    fn a_changed_body_a_wrong_secret_or_an_unknown_key_is_refused() {
        let (headers, _) = botocore_request();
        let now = at("20260501T120000Z");
        let tampered = Request { method: "POST", path: "/", query: "", headers: &headers, body: b"Action=DeleteTrafficMirrorSession&Version=2016-11-15" };
        let err = verify(&tampered, "ec2", botocore_secret, now).unwrap_err();
        assert_eq!(err, AuthError::BadSignature { access_key: "AKIDTRAFFICMIRROR".into() });
        assert_eq!(err.code(), "AuthFailure");
        let (headers, body) = botocore_request();
        let req = Request { method: "POST", path: "/", query: "", headers: &headers, body };
        let err = verify(&req, "ec2", |_| Some("another secret"), now).unwrap_err();
        assert!(matches!(err, AuthError::BadSignature { .. }));
        assert!(!err.client_message().contains("another secret") && !err.to_string().contains("another secret"));
        let err = verify(&req, "ec2", |_| None, now).unwrap_err();
        assert_eq!(err, AuthError::UnknownKey { access_key: "AKIDTRAFFICMIRROR".into() });
        assert_eq!(err.code(), "AuthFailure");
        assert_eq!(err.client_message(), AuthError::BadSignature { access_key: "x".into() }.client_message());
        let err = verify(&req, "s3", botocore_secret, now).unwrap_err();
        assert_eq!(err.code(), "AuthFailure");
    }

    #[test]
    fn a_request_more_than_five_minutes_off_either_way_is_expired() {
        let (headers, body) = botocore_request();
        let req = Request { method: "POST", path: "/", query: "", headers: &headers, body };
        for now in ["20260501T120501Z", "20260501T115459Z", "20270101T000000Z"] {
            let err = verify(&req, "ec2", botocore_secret, at(now)).unwrap_err();
            assert_eq!(err.code(), "RequestExpired", "{now}");
            assert!(err.client_message().contains("20260501T120000Z"));
        }
        assert!(verify(&req, "ec2", botocore_secret, at("20260501T115500Z")).is_ok());
    }

    #[test]
    fn missing_or_malformed_authorization_is_refused_with_its_own_code() {
        let req = Request { method: "POST", path: "/", query: "", headers: &h(&[HOST, DATE]), body: b"" };
        assert_eq!(verify(&req, "ec2", suite_secret, at(SUITE_DATE)).unwrap_err().code(), "MissingAuthenticationToken");
        for bad in [
            "AWS AKIDEXAMPLE:c2lnbmF0dXJl",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2, SignedHeaders=host, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, SignedHeaders=x-amz-date, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, Signature=00",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=zz",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150831/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00",
        ] {
            let mut headers = h(&[HOST, DATE]);
            headers.push(("Authorization".into(), bad.into()));
            let req = Request { method: "POST", path: "/", query: "", headers: &headers, body: b"" };
            assert_eq!(verify(&req, "ec2", suite_secret, at(SUITE_DATE)).unwrap_err().code(), "IncompleteSignature", "{bad}");
        }
    }

    #[test]
    fn paths_canonicalise_as_botocore_does() {
        assert_eq!(canonical_uri("/"), "/");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(canonical_uri("/a%2Fb"), "/a%252Fb");
    }

    #[test]
    fn amz_dates_round_trip() {
        for d in ["19700101T000000Z", "20150830T123600Z", "20240229T235959Z", "21000301T000000Z"] {
            assert_eq!(format_amz_date(parse_amz_date(d).unwrap()), d);
        }
        assert_eq!(parse_amz_date("20150830T123600Z").unwrap(), UNIX_EPOCH + Duration::from_secs(1_440_938_160));
        for bad in ["2015-08-30T12:36:00Z", "20151330T123600Z", "20150830T123600", "2015083OT123600Z"] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
    }
}
