"""Gateway adapters: one module per gateway, pure protocol translation (see ``base``)."""
