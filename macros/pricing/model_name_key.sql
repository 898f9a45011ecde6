{#- The key a model name is compared on under one resolution rule (docs/pricing.md).
    Rules are cumulative: each one also applies the ones before it. -#}
{% macro model_name_key(column, rule) -%}
    {%- set providers = [
        "openai", "anthropic", "bedrock", "bedrock_converse", "vertex_ai", "vertex_ai_beta",
        "gemini", "azure", "azure_ai", "mistral", "deepseek", "groq", "together_ai",
        "fireworks_ai", "hosted_vllm", "openrouter", "xai", "cohere", "perplexity", "ollama",
    ] | join("|") -%}
    {%- set key = "lower(" ~ column ~ ")" -%}
    {%- if rule in ("provider_prefix", "region_prefix", "version_suffix", "date_suffix") -%}
        {%- set key = "regexp_replace(" ~ key ~ ", '^(" ~ providers ~ ")/', '')" -%}
    {%- endif -%}
    {%- if rule in ("region_prefix", "version_suffix", "date_suffix") -%}
        {%- set key = "regexp_replace(" ~ key ~ ", '^(us|eu|apac|global|us-gov)\\.', '')" -%}
    {%- endif -%}
    {%- if rule in ("version_suffix", "date_suffix") -%}
        {#- only the Bedrock form (-v1:0, :0): a bare -v2 names another model generation -#}
        {%- set key = "regexp_replace(" ~ key ~ ", '(-v[0-9]+)?:[0-9]+$', '')" -%}
    {%- endif -%}
    {%- if rule == "date_suffix" -%}
        {%- set dated = "'-(20[0-9]{6}|20[0-9]{2}-[0-9]{2}-[0-9]{2})$'" -%}
        {%- set key = "regexp_replace(" ~ key ~ ", " ~ dated ~ ", '')" -%}
    {%- endif -%}
    {{ key }}
{%- endmacro %}
