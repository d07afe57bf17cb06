//! Emulator-only HTTP shim, used for S3 only when `AwsSettings::endpoint` is set: moto 5.2
//! answers `ListParts` with a `<ListPartsResponse>` root element where S3 (and the strict Rust
//! SDK parser) use `<ListPartsResult>`, so every ListParts would fail to parse. This wraps the
//! HTTP client and renames that root element in ListParts responses (a GET carrying
//! `uploadId=`); every other request and response passes through untouched. Never installed
//! against real AWS.

use aws_sdk_s3::config::http::{HttpRequest, HttpResponse};
use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

const WRONG_OPEN: &[u8] = b"<ListPartsResponse";
const RIGHT_OPEN: &[u8] = b"<ListPartsResult";
const WRONG_CLOSE: &[u8] = b"</ListPartsResponse>";
const RIGHT_CLOSE: &[u8] = b"</ListPartsResult>";

/// An HTTP client that fixes moto's ListParts root element.
#[derive(Debug, Clone)]
pub(super) struct MotoCompat {
    inner: SharedHttpClient,
}

impl MotoCompat {
    /// Wraps `inner`.
    pub(super) fn wrap(inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(Self { inner })
    }
}

impl HttpClient for MotoCompat {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector {
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct Connector {
    inner: SharedHttpConnector,
}

fn replace_once(hay: &[u8], from: &[u8], to: &[u8], last: bool) -> Option<Vec<u8>> {
    let pos = if last {
        hay.windows(from.len()).rposition(|w| w == from)?
    } else {
        hay.windows(from.len()).position(|w| w == from)?
    };
    let mut out = Vec::with_capacity(hay.len());
    out.extend_from_slice(&hay[..pos]);
    out.extend_from_slice(to);
    out.extend_from_slice(&hay[pos + from.len()..]);
    Some(out)
}

/// The ListParts body with S3's root element, if it had moto's.
fn fix_list_parts(body: &[u8]) -> Option<Vec<u8>> {
    let opened = replace_once(body, WRONG_OPEN, RIGHT_OPEN, false)?;
    replace_once(&opened, WRONG_CLOSE, RIGHT_CLOSE, true)
}

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let list_parts = request.method() == "GET" && request.uri().contains("uploadId=");
        let response = self.inner.call(request);
        if !list_parts {
            return response;
        }
        HttpConnectorFuture::new(async move {
            let mut response: HttpResponse = response.await?;
            let body = ByteStream::new(response.take_body())
                .collect()
                .await
                .map_err(|e| ConnectorError::io(e.into()))?
                .into_bytes();
            let fixed = fix_list_parts(&body).unwrap_or_else(|| body.to_vec());
            response
                .headers_mut()
                .insert("content-length", fixed.len().to_string());
            *response.body_mut() = SdkBody::from(fixed);
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_only_the_root_element() {
        let moto = b"<?xml?>\n<ListPartsResponse xmlns=\"x\"><Key>ListPartsResponse</Key></ListPartsResponse>";
        let fixed = fix_list_parts(moto).unwrap();
        assert_eq!(
            fixed,
            b"<?xml?>\n<ListPartsResult xmlns=\"x\"><Key>ListPartsResponse</Key></ListPartsResult>"
        );
        assert_eq!(fix_list_parts(b"<ListPartsResult></ListPartsResult>"), None);
    }
}
