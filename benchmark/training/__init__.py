"""Intermediate-task training: one loop (:mod:`.trainer`), pluggable objectives (:mod:`.objectives`),
atomic resumable checkpoints (:mod:`.checkpoint`)."""
