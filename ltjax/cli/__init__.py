"""The command-line entry points (`ltjax-train`, `ltjax-decouple`,
`ltjax-predict`) and what they share: config names, overrides checked
before they are applied, and user errors as one line."""
