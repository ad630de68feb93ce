//! What an audit event actually carries, stage by stage: a rule's level says what *may* be recorded, the
//! stages that are not omitted say what is written.
//!
//! From k8s.io/apiserver/pkg/endpoints/filters/audit.go and the REST handlers:
//! - `RequestReceived` is sent before the handler decodes the body: metadata only.
//! - `ResponseStarted` is sent for long-running requests only (watch, and the connect subresources
//!   exec, attach, portforward, proxy) when the response headers go out: metadata only.
//! - `ResponseComplete` is the only stage that carries `requestObject` (level Request and up) and
//!   `responseObject` (`RequestResponse`). A watch's response is a stream, never recorded.
//! - `Panic` is sent only when the handler panics, with whatever had been captured. It is not counted
//!   here: a body that only a panic would write is not a body the log holds.
//!
//! The stages omitted for a rule are the policy's `omitStages` together with the rule's
//! (checker.go `NewChecker`, `unionStages`).

use super::policy::Level;

/// The most a request's events record under a rule: `level` cut to what the emitted stages carry.
/// `Level::None` when every stage it would emit is omitted.
#[must_use]
pub fn written(level: Level, omitted: &[&str], verb: &str, long_running: bool) -> Level {
    let sent = |stage: &str| !omitted.contains(&stage);
    let mut out = Level::None;
    if sent("RequestReceived") || (long_running && sent("ResponseStarted")) {
        out = out.max(level.min(Level::Metadata));
    }
    if sent("ResponseComplete") {
        out = out.max(if verb == "watch" { level.min(Level::Metadata) } else { level });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_only_in_response_complete() {
        let rr = Level::RequestResponse;
        assert_eq!(written(rr, &[], "get", false), rr);
        assert_eq!(written(rr, &["RequestReceived"], "create", false), rr);
        assert_eq!(written(rr, &["ResponseComplete"], "get", false), Level::Metadata);
        assert_eq!(written(rr, &["RequestReceived", "ResponseComplete"], "get", false), Level::None);
        // ResponseStarted is sent only for long-running requests.
        assert_eq!(written(rr, &["RequestReceived", "ResponseComplete"], "create", true), Level::Metadata);
        assert_eq!(written(Level::Request, &["ResponseStarted"], "update", false), Level::Request);
    }

    #[test]
    fn a_watch_records_no_body() {
        assert_eq!(written(Level::RequestResponse, &[], "watch", true), Level::Metadata);
        assert_eq!(written(Level::None, &[], "watch", true), Level::None);
    }
}
