{{ config(severity='warn') }}
-- Corrections of usage lines made by late events are explained by those events exactly; one
-- made by a list price re-rated into an issued month is not (fct_invoice_line_requests; an
-- issued month keeps its sell prices, docs/decisions/0024).
{{ line_requests_mismatch("line_type = 'correction' and corrected_line_type = 'usage'") }}
