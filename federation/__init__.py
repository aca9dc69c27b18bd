"""The wire: vocabulary and contexts, URLs, WebFinger, NodeInfo, collections, keys encoding."""
