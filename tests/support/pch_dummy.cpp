// Carrier for the tests precompiled header.
