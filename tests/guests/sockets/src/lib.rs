//! sockets test guest
