"""Knowledge base: playbook catalogue, chunking, embeddings, Chroma index, hybrid retrieval, evaluation."""
