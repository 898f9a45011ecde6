-- Every usage line is explained by requests whose tokens sum to its quantity: nothing on an
-- invoice that no request accounts for, nothing counted twice.
{{ line_requests_mismatch("line_type = 'usage'") }}
