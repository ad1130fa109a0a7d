"""Benchmarks of CoRespond's budgets (DESIGN.md, "Performance budgets"); see bench/README.md."""
