//! EchoMimicV2 replay: the weights as shipped (with a report of the keys the
//! model expected and got), context windows, guidance of both pipeline
//! variants and the denoising loop.

pub(crate) mod context;
