// The sandbox cashier (filled in below).
