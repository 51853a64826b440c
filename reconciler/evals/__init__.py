"""The grader language run locally (SPEC §11): every grader of a manifest (string_check,
text_similarity, python, score_model, label_model, multi) scored on one answer to one item, as
OpenAI's graders guide defines them. Model calls (score_model, label_model, cosine) go through the
``Models`` port that the caller gives, so that the engine knows no HTTP and no target.

``model`` is the port (Sample, Score, Models); ``engine`` dispatches on the grader's type to
``templates`` (``{{item.x}}``, ``{{sample.output_text}}``), ``similarity`` (the text metrics),
``python_grader`` (and its ``python_child`` process), ``model_graders`` and ``formula`` (a multi
grader's ``calculate_output``). docs/evaluations.md says what each grader computes."""
