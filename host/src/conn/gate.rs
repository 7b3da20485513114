//! The caps on open connections: in total and per client address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

/// The address a connection counts against: the peer's IP, an IPv6 peer
/// by its /64 (one subscriber's network), an IPv4-mapped one as IPv4.
///
/// The one place that says who a client is at the connection level; a
/// deployment behind trusted proxies swaps it for the forwarded address.
pub fn client_address(peer: &SocketAddr) -> IpAddr {
    match peer.ip() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let network = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(network))
            }
        },
    }
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The host holds its most connections.
    Total,
    /// This client address holds its most connections.
    PerAddress,
}

impl Refusal {
    /// Metrics label.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Total => "total",
            Refusal::PerAddress => "per_address",
        }
    }

    /// What the client is told.
    pub fn message(self) -> &'static str {
        match self {
            Refusal::Total => "the host has too many open connections; retry shortly",
            Refusal::PerAddress => {
                "too many open connections from your address; close some and retry"
            }
        }
    }
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// Counts of open connections against their caps.
pub struct Gate {
    max_total: usize,
    max_per_address: usize,
    counts: Mutex<Counts>,
}

/// One admitted connection; dropping it frees its place.
pub struct Ticket {
    gate: Arc<Gate>,
    address: IpAddr,
}

impl Gate {
    /// Caps of `max_total` connections and `max_per_address` per address
    /// (0: no per-address cap).
    pub fn new(max_total: usize, max_per_address: usize) -> Self {
        Gate {
            max_total: max_total.max(1),
            max_per_address,
            counts: Mutex::default(),
        }
    }

    /// Admit a connection from `address`, or say which cap it is over.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<Ticket, Refusal> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.max_total {
            return Err(Refusal::Total);
        }
        let from_address = counts.per_address.get(&address).copied().unwrap_or(0);
        if self.max_per_address > 0 && from_address >= self.max_per_address {
            return Err(Refusal::PerAddress);
        }
        counts.total += 1;
        counts.per_address.insert(address, from_address + 1);
        metrics::gauge!("islet_connections_open").set(counts.total as f64);
        Ok(Ticket {
            gate: self.clone(),
            address,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self
            .gate
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_address.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.per_address.remove(&self.address);
            }
        }
        metrics::gauge!("islet_connections_open").set(counts.total as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_hold_in_total_and_per_address_and_free_on_drop() {
        let gate = Arc::new(Gate::new(3, 2));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = gate.admit(a).unwrap();
        let _a2 = gate.admit(a).unwrap();
        assert_eq!(gate.admit(a).err(), Some(Refusal::PerAddress));
        let _b1 = gate.admit(b).unwrap();
        assert_eq!(gate.admit(b).err(), Some(Refusal::Total));
        drop(a1);
        assert_eq!(gate.open(), 2);
        assert!(gate.admit(a).is_ok());
    }

    #[test]
    fn ipv6_clients_count_by_their_64_and_mapped_ipv4_as_ipv4() {
        let one: SocketAddr = "[2001:db8:1:2:aaaa::1]:1000".parse().unwrap();
        let two: SocketAddr = "[2001:db8:1:2:bbbb::9]:2000".parse().unwrap();
        let other: SocketAddr = "[2001:db8:1:3::1]:2000".parse().unwrap();
        assert_eq!(client_address(&one), client_address(&two));
        assert_ne!(client_address(&one), client_address(&other));
        let mapped: SocketAddr = "[::ffff:192.0.2.7]:80".parse().unwrap();
        assert_eq!(
            client_address(&mapped),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }
}
