def grade(sample: dict, item: dict) -> float:
    """1.0 when the model answered exactly the expected label, else 0.0."""
    answer = (sample.get("output_text") or "").strip().lower()
    return 1.0 if answer == item["label"] else 0.0
