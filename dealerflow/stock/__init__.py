"""HQ warehouses and their stock per SKU (from the ERP), and the allocation of stock to orders."""
