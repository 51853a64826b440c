"""Glue between the CLI and the layers, by concern: ``settings`` (flags, environment, defaults),
``target`` (where requests go), ``desired`` (manifests and data → desired state), ``planning`` (live
state → plan), ``saved`` (plan files). Only this package and the CLI know all layers at once."""
