//! hostile test guest
