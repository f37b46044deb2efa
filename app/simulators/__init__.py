"""Provider-side fakes of each gateway: hosted pages, signed callbacks, query/refund APIs.

They verify OUR signatures exactly as the real gateway would and answer with correctly signed
messages. The test suite and sandbox mode (``PAYBRIDGE_SANDBOX=true``, mounted under
``/sandbox/{provider}``) use the same fakes.
"""
