"""PDF reports rendered from the ledger; built with the reports issue."""
