//! `make bench`'s in-process part lives in `examples/routes.rs`: every route's handler timed
//! against the local DynamoDB, with its time outside DynamoDB and argon2. An example rather than
//! a binary, so that `cargo lambda watch` does not take it for a function.
