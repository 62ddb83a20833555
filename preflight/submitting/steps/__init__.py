"""The steps of a submit run, one module per stretch of the job's state table.

=========================  =====================================================  ================
module                     moves (`preflight.submitting.states`)                  paid?
=========================  =====================================================  ================
`.prepare` (`Preparing`)   pending → checked | fixed | rejected | blocked         no
`.host` (`Hosting`)        checked | fixed → hosted, or blocked (no route)         no
`.face` (`Choosing`)       hosted → hosted | rejected (advanced: identify-face)    no
`.create` (`Creating`)     hosted → creating → submitted (| hosted on 1303)       the create
`.finish` (`Finishing`)    submitted → processing → succeeded → done              no
=========================  =====================================================  ================

`preflight.submitting.pipeline.Submitter` puts them together and drives a job from the state its
ledger row is in.
"""
