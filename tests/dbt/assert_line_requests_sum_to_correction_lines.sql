{{ config(severity='warn') }}
-- Corrections of usage lines made by late events are explained by those events exactly; a
-- correction made by editing a contract retroactively is not (fct_invoice_line_requests).
{{ line_requests_mismatch("line_type = 'correction' and corrected_line_type = 'usage'") }}
