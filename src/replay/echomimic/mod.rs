//! EchoMimicV2 replay: its models rebuilt on the candle engine, the weights as shipped (with a report of the keys the
//! model expected and got), context windows, guidance of both pipeline
//! variants and the denoising loop.
//!
//! The pieces below are driven by the replay of `family = "echomimic-v2"`
//! once the candle model is wired to them; until then only their tests call
//! some of them.

#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod context;
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod findings;
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod inference;
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod inputs;
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod prepare;
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod sampler;
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) mod weights;

pub(crate) mod model;
