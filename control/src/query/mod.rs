//! The EC2 Query transport: the stock AWS CLI, boto3 and the other SDKs drive the appliance
//! as they drive EC2 (`aws ec2 --endpoint-url https://appliance:8788 ...`).
//!
//! A request is a form-encoded `POST` (`Action=...&Version=2016-11-15&...`), signed with
//! Signature Version 4; the reply is EC2's XML. Everything between the wire and the actions is
//! here, and nothing else is: this module turns an HTTP request into an action name and a JSON
//! input in botocore's member names, hands them to a [`Dispatch`], and turns its answer into
//! EC2's reply or error document. Every wire name comes from botocore's own model
//! (`ec2-model.json`), so what the stock clients send and expect is what is served.

mod credentials;
mod decode;
mod encode;
mod model;
pub(crate) mod sigv4;

use crate::api::ApiError;
use anyhow::Context;
use credentials::Credentials;
use crate::http::{self, HttpRequest, HttpResponse, HttpServer};
use model::Model;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

pub use crate::http::Limits;

/// Runs one action; input and output are JSON objects in botocore's *member names*
/// (e.g. `{"TrafficMirrorSessionIds": ["tms-1"], "Filters": [{"Name": "tag:team", "Values": ["ids"]}],
/// "MaxResults": 5, "DryRun": true}` in, `{"TrafficMirrorSessions": [...], "NextToken": "..."}` out),
/// exactly the shapes botocore's EC2 model gives the operation's input and output.
pub trait Dispatch: Send + Sync + 'static {
    /// Runs `action` (an EC2 operation name) on `input`; an `Err` becomes EC2's error document.
    fn call(&self, action: &str, input: Value) -> Result<Value, ApiError>;
}

impl<F> Dispatch for F
where
    F: Fn(&str, Value) -> Result<Value, ApiError> + Send + Sync + 'static,
{
    fn call(&self, action: &str, input: Value) -> Result<Value, ApiError> {
        self(action, input)
    }
}

/// `[api]` in the configuration: where the EC2 Query API listens and whom it lets in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    /// The address and port, e.g. `127.0.0.1:8788`.
    pub listen: SocketAddr,
    /// The accepted access keys, in the AWS shared-credentials format; mode 0600 or stricter.
    pub credentials_file: PathBuf,
    /// The certificate chain (PEM) served over TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
}

impl ApiConfig {
    /// Configuration errors, as (key, message); empty when it can be served.
    pub fn validate(&self) -> Vec<(&'static str, String)> {
        let mut errors = Vec::new();
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) => errors.push(("tls_key", "tls_cert is set, so tls_key must be too: give both or neither".to_string())),
            (None, Some(_)) => errors.push(("tls_cert", "tls_key is set, so tls_cert must be too: give both or neither".to_string())),
            (None, None) if !self.listen.ip().is_loopback() => errors.push((
                "listen",
                format!("{} is not a loopback address, so it needs TLS: set tls_cert and tls_key (plain HTTP is served only on loopback)", self.listen),
            )),
            _ => {}
        }
        if self.credentials_file.as_os_str().is_empty() {
            errors.push(("credentials_file", "must name the file of accepted access keys".to_string()));
        }
        errors
    }
}

/// The running API; stops when dropped.
pub struct QueryServer {
    http: HttpServer,
}

impl QueryServer {
    /// The address it listens on (with the port chosen, when `listen` has port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.http.local_addr()
    }

    /// Connections open now (never more than the limit).
    pub fn active_connections(&self) -> usize {
        self.http.active_connections()
    }
}

/// Starts the API on threads of its own, with the default [`Limits`].
pub fn serve(cfg: &ApiConfig, dispatch: Arc<dyn Dispatch>) -> anyhow::Result<QueryServer> {
    serve_with_limits(cfg, dispatch, Limits::default())
}

/// Starts the API on threads of its own, with the given [`Limits`].
pub fn serve_with_limits(cfg: &ApiConfig, dispatch: Arc<dyn Dispatch>, limits: Limits) -> anyhow::Result<QueryServer> {
    let errors = cfg.validate();
    if !errors.is_empty() {
        let lines: Vec<String> = errors.iter().map(|(key, msg)| format!("[api] {key}: {msg}")).collect();
        anyhow::bail!("{}", lines.join("; "));
    }
    let credentials = Credentials::load(&cfg.credentials_file)?;
    let keys = credentials.count();
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => Some(tls_config(cert, key)?),
        _ => None,
    };
    let listener = TcpListener::bind(cfg.listen).with_context(|| format!("[api] listen = {}: cannot listen", cfg.listen))?;
    let service = Arc::new(Service { model: Model::get(), credentials, dispatch });
    let scheme = if tls.is_some() { "https" } else { "http" };
    let http = http::serve_http("ec2-api", listener, tls, limits, Arc::new(move |req| service.handle(req)))?;
    let botocore = &Model::get().botocore_version;
    log::info!("EC2 Query API on {scheme}://{} ({keys} access keys, botocore {botocore}'s model)", http.local_addr());
    Ok(QueryServer { http })
}

fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| anyhow::anyhow!("[api] tls_cert = {}: {e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!("[api] tls_cert = {}: no PEM certificate in it", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| anyhow::anyhow!("[api] tls_key = {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("[api] tls_cert and tls_key do not make a usable certificate")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A refused or failed request, as EC2 reports it.
struct Failure {
    code: String,
    message: String,
    /// Only where HTTP itself has a better status than EC2's for the code.
    status: Option<u16>,
}

impl Failure {
    fn new(code: &str, message: impl Into<String>) -> Self {
        Failure { code: code.to_string(), message: message.into(), status: None }
    }
}

struct Service {
    model: &'static Model,
    credentials: Credentials,
    dispatch: Arc<dyn Dispatch>,
}

impl Service {
    fn handle(&self, req: &HttpRequest) -> HttpResponse {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (status, body) = match self.answer(req, &request_id) {
            Ok(xml) => (200, xml),
            Err(f) => (f.status.unwrap_or_else(|| encode::status(&f.code)), encode::error(&f.code, &f.message, &request_id)),
        };
        let mut response = HttpResponse::new(status, "text/xml;charset=UTF-8", body);
        if status == 405 {
            response.headers.push(("Allow".into(), "POST, GET".into()));
        }
        response
    }

    fn answer(&self, req: &HttpRequest, request_id: &str) -> Result<String, Failure> {
        if req.method != "POST" && req.method != "GET" {
            return Err(Failure { status: Some(405), ..Failure::new("InvalidRequest", format!("the EC2 Query API takes POST requests, not {}", req.method)) });
        }
        let signed = sigv4::Request { method: &req.method, path: req.path(), query: req.query(), headers: &req.headers, body: &req.body };
        match sigv4::verify(&signed, "ec2", |key| self.credentials.secret(key), SystemTime::now()) {
            Ok(verified) => log::debug!("ec2 api: {} signed by {} ({})", req.peer, verified.access_key, verified.region),
            Err(e) => {
                // The access key id is in e's text; no secret ever is.
                log::warn!("ec2 api: refused {}: {}: {e}", req.peer, e.code());
                return Err(Failure::new(e.code(), e.client_message()));
            }
        }

        let mut params: Vec<(String, String)> = form_urlencoded::parse(req.query().as_bytes()).into_owned().collect();
        if !req.body.is_empty() {
            let content_type = req.header("content-type").unwrap_or("");
            if !content_type.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/x-www-form-urlencoded") {
                return Err(Failure { status: Some(415), ..Failure::new("InvalidQueryParameter", format!("the body must be application/x-www-form-urlencoded, not {content_type:?}")) });
            }
            params.extend(form_urlencoded::parse(&req.body).into_owned());
        }
        let action = take(&mut params, "Action")?.ok_or_else(|| Failure::new("MissingAction", "The request must contain the parameter Action"))?;
        let version = take(&mut params, "Version")?.ok_or_else(|| Failure::new("MissingParameter", "The request must contain the parameter Version"))?;
        if version != self.model.metadata.api_version {
            return Err(Failure::new("NoSuchVersion", format!("The requested version ({version}) of service AmazonEC2 does not exist")));
        }
        let op = self.model.operation(&action).ok_or_else(|| Failure::new("InvalidAction", format!("The action {action} is not valid for this web service.")))?;
        let input_shape = op.input.as_ref().map(|r| &self.model.shapes[&r.shape]);
        let input = match input_shape {
            Some(shape) => decode::decode(self.model, shape, &params).map_err(|e| Failure::new(e.code(), e.to_string()))?,
            None if params.is_empty() => Value::Object(Default::default()),
            None => return Err(Failure::new("UnknownParameter", format!("The parameter {} is not recognized", params[0].0))),
        };

        let output = self.dispatch.call(&action, input).map_err(|e| Failure::new(&e.code, e.message))?;
        let output_shape = op.output.as_ref().map(|r| &self.model.shapes[&r.shape]);
        encode::reply(self.model, &action, output_shape, &output, request_id).map_err(|e| {
            log::error!("ec2 api: {action}'s answer does not fit the EC2 model: {e}");
            Failure::new("InternalError", "An internal error has occurred")
        })
    }
}

/// Removes the one parameter called `name`.
fn take(params: &mut Vec<(String, String)>, name: &str) -> Result<Option<String>, Failure> {
    let mut found = None;
    let mut repeated = false;
    params.retain(|(k, v)| {
        if k != name {
            return true;
        }
        repeated |= found.replace(v.clone()).is_some();
        false
    });
    if repeated {
        return Err(Failure::new("InvalidParameterValue", format!("The parameter {name} is given more than once")));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<ApiConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn plain_http_is_allowed_on_loopback_only() {
        let ok = config("listen = \"127.0.0.1:8788\"\ncredentials_file = \"/etc/traffic-mirror/credentials\"").unwrap();
        assert!(ok.validate().is_empty());
        let v6 = config("listen = \"[::1]:8788\"\ncredentials_file = \"c\"").unwrap();
        assert!(v6.validate().is_empty());
        let open = config("listen = \"0.0.0.0:8788\"\ncredentials_file = \"c\"").unwrap();
        let errors = open.validate();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "listen");
        assert!(errors[0].1.contains("0.0.0.0:8788") && errors[0].1.contains("tls_cert"), "{}", errors[0].1);
        let tls = config("listen = \"0.0.0.0:8788\"\ncredentials_file = \"c\"\ntls_cert = \"c.pem\"\ntls_key = \"k.pem\"").unwrap();
        assert!(tls.validate().is_empty());
    }

    #[test]
    fn cert_and_key_go_together() {
        let half = config("listen = \"127.0.0.1:8788\"\ncredentials_file = \"c\"\ntls_cert = \"c.pem\"").unwrap();
        assert_eq!(half.validate().iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["tls_key"]);
        let half = config("listen = \"10.0.0.1:8788\"\ncredentials_file = \"c\"\ntls_key = \"k.pem\"").unwrap();
        assert_eq!(half.validate().iter().map(|(k, _)| *k).collect::<Vec<_>>(), ["tls_cert"]);
    }

    #[test]
    fn unknown_keys_in_api_are_refused() {
        let err = config("listen = \"127.0.0.1:8788\"\ncredentials_file = \"c\"\ntls = true").unwrap_err();
        assert!(err.to_string().contains("tls"), "{err}");
        assert!(config("credentials_file = \"c\"").is_err());
    }

    #[test]
    fn serve_refuses_an_invalid_config_naming_the_key() {
        let cfg = ApiConfig { listen: "0.0.0.0:0".parse().unwrap(), credentials_file: "c".into(), tls_cert: None, tls_key: None };
        let err = serve(&cfg, Arc::new(|_: &str, _: Value| Ok(Value::Null))).err().unwrap();
        assert!(err.to_string().contains("[api] listen"), "{err}");
    }
}
