//! unknown-import test guest
