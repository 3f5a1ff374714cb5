from tests.fixtures.devpush import devpush, devpush_server, identity

__all__ = ["devpush", "devpush_server", "identity"]
