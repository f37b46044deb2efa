"""Business rules. Services own transactions; routes call one service function each."""
