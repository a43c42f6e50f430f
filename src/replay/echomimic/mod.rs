//! EchoMimicV2 replay: its models rebuilt on the candle engine, the weights as shipped (with a report of the keys the
//! model expected and got), context windows, guidance of both pipeline
//! variants and the denoising loop.
//! [`wire`] builds the models from the weights and runs the loop for
//! `nanscope replay`.

pub(crate) mod context;
pub(crate) mod findings;
pub(crate) mod inference;
pub(crate) mod inputs;
pub(crate) mod prepare;
pub(crate) mod sampler;
pub(crate) mod weights;

pub(crate) mod model;
pub(crate) mod wire;
