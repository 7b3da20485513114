//! probe test guest
