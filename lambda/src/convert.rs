//! The domain's DynamoDB JSON values to and from `aws-sdk-dynamodb`'s.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue as Sdk;
use base64::Engine;
use media_query_domain::dynamo::{AttributeValue as Av, Item};
use std::collections::HashMap;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub fn to_sdk(v: &Av) -> Sdk {
    let blob = |s: &str| Blob::new(B64.decode(s).unwrap_or_default());
    match v {
        Av::S(s) => Sdk::S(s.clone()),
        Av::N(n) => Sdk::N(n.clone()),
        Av::B(b) => Sdk::B(blob(b)),
        Av::Bool(b) => Sdk::Bool(*b),
        Av::Null(n) => Sdk::Null(*n),
        Av::L(l) => Sdk::L(l.iter().map(to_sdk).collect()),
        Av::M(m) => Sdk::M(m.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()),
        Av::Ss(s) => Sdk::Ss(s.clone()),
        Av::Ns(n) => Sdk::Ns(n.clone()),
        Av::Bs(b) => Sdk::Bs(b.iter().map(|s| blob(s)).collect()),
    }
}

/// `None` for a value type this SDK version added after we were written.
pub fn from_sdk(v: &Sdk) -> Option<Av> {
    let b64 = |b: &Blob| B64.encode(b.as_ref());
    Some(match v {
        Sdk::S(s) => Av::S(s.clone()),
        Sdk::N(n) => Av::N(n.clone()),
        Sdk::B(b) => Av::B(b64(b)),
        Sdk::Bool(b) => Av::Bool(*b),
        Sdk::Null(n) => Av::Null(*n),
        Sdk::L(l) => Av::L(l.iter().map(from_sdk).collect::<Option<_>>()?),
        Sdk::M(m) => Av::M(
            m.iter()
                .map(|(k, v)| Some((k.clone(), from_sdk(v)?)))
                .collect::<Option<_>>()?,
        ),
        Sdk::Ss(s) => Av::Ss(s.clone()),
        Sdk::Ns(n) => Av::Ns(n.clone()),
        Sdk::Bs(b) => Av::Bs(b.iter().map(b64).collect()),
        _ => return None,
    })
}

pub fn item_to_sdk(item: &Item) -> HashMap<String, Sdk> {
    item.iter().map(|(k, v)| (k.clone(), to_sdk(v))).collect()
}

pub fn item_from_sdk(item: &HashMap<String, Sdk>) -> Option<Item> {
    item.iter()
        .map(|(k, v)| Some((k.clone(), from_sdk(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_type() {
        let item: Item = serde_json::from_str(
            r#"{"s":{"S":"x"},"n":{"N":"1.5"},"b":{"B":"AAE="},"t":{"BOOL":true},"z":{"NULL":true},
                "l":{"L":[{"S":"a"},{"N":"2"}]},"m":{"M":{"k":{"S":"v"}}},"ss":{"SS":["a"]},
                "ns":{"NS":["1"]},"bs":{"BS":["AA=="]}}"#,
        )
        .unwrap();
        assert_eq!(item_from_sdk(&item_to_sdk(&item)).unwrap(), item);
    }
}
