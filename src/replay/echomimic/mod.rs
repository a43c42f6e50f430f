//! EchoMimicV2 replay: its models rebuilt on the candle engine.

pub(crate) mod model;
