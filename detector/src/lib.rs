//! An offline label detector that speaks Amazon Rekognition's API, for the
//! local stack. See the detector issue; this crate starts as a placeholder.
