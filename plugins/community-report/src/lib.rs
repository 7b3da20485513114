//! community-report
