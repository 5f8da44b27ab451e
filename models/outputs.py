"""The columns a model adds to every classified complaint: the contract of ``tousu classify``,
of the Spark engine and of :meth:`tousu.models.pipeline.ComplaintModel.predict` (a module of
its own, so that a job's parent process can name them without loading the model's libraries)."""

# The first six are the columns scripts have always read, in this order; the level-2 ones follow.
OUTPUT_COLUMNS = ["category", "category_name", "confidence", "categories", "topic_id", "topic_label",
                  "subcategory", "subcategory_name"]
NO_TOPIC = -1
