"""The official SDK's own live tests, run against the emulator (see ``test_official_suite``)."""
