//! Types for the units of VRRP: router ids, priorities, intervals in centiseconds.
