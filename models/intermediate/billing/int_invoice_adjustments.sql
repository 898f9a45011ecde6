-- One row per tenant, invoice month and adjustment: the monthly terms of the contract,
-- computed on the unrounded usage amount (rounding happens once, in fct_invoice_lines).
-- Order: free allowance, volume tier discounts, contract discount; the commitment shortfall
-- is computed in fct_invoice_lines from the rounded lines, so that it tops the invoice up to
-- exactly the commitment.
-- The free allowance and tiers value tokens pro rata at the month's average unit price.
{{ monthly_adjustments(
    ref('int_invoice_usage_lines'), ref('int_tenant_contracts_monthly'), keys=['tenant_id']
) }}
