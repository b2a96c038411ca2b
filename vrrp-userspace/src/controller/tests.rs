//! Unit tests of the controller's own decisions, in virtual time.
