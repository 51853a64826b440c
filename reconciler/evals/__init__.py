"""The grader language run locally (SPEC §11): every grader of a manifest (string_check,
text_similarity, python, score_model, label_model, multi) scored on one answer to one item, as
OpenAI's graders guide defines them. Model calls (score_model, label_model, cosine) go through the
``Models`` port that the caller gives, so that the engine knows no HTTP and no target."""
