def load_demo(log):
    log("catalog: demo pending")
